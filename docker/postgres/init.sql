-- One database per service (run once, when the PostgreSQL volume is empty). A service never
-- reads another one's tables; each service creates its own tables at start-up (Alembic).
CREATE DATABASE mes_identity;
CREATE DATABASE mes_mailbox;
CREATE DATABASE mes_conversation;
CREATE DATABASE mes_directory;
CREATE DATABASE mes_notifier;
