"""Request and answer models of the service-to-service calls, one module per called service.

Both sides of an internal call import the same model: the caller builds it, the called service's
route declares it, so the two cannot drift apart. These are internal: not part of the public API
nor of the published OpenAPI document.
"""
