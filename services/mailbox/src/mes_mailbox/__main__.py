from mes_platform.serve import serve

from .main import create_app
from .settings import MailboxSettings

serve(create_app, MailboxSettings())  # type: ignore[arg-type]
