"""OpenAPI support: the contract of a lanner application and the checks made on it."""
