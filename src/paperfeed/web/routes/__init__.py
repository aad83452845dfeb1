"""Routers: every module here with a module-level `router` is included by create_app."""
