"""MES Messagerie API gateway: authentication, the public /v1 API, flow composition."""
