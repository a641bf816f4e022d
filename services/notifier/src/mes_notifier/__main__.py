from mes_platform.serve import serve

from .main import create_app
from .settings import NotifierSettings

serve(create_app, NotifierSettings())  # type: ignore[arg-type]
