from mes_platform.serve import serve

from .main import create_app
from .settings import IdentitySettings

serve(create_app, IdentitySettings())  # type: ignore[arg-type]
