"""The API's handlers, one module per resource; each calls the registry acting as the request's
user (``auth.acting_registry``) and holds no rule of its own about who may do what."""
