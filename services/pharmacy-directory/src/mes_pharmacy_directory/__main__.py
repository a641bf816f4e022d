from mes_platform.serve import serve

from .main import create_app
from .settings import DirectorySettings

serve(create_app, DirectorySettings())  # type: ignore[arg-type]
