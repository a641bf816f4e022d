from mes_platform.serve import serve

from .main import create_app
from .settings import ConversationSettings

serve(create_app, ConversationSettings())  # type: ignore[arg-type]
