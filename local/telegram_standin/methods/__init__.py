"""The Bot API methods, one module per resource.

Importing this package imports every method module, and so registers every method in
``botapi.METHODS``; the app reads the registry from here (:data:`METHODS`) so that it cannot miss one.
"""

from ..botapi import METHODS
from . import chats, commands, documents, invites, messages, payments, updates

__all__ = ["METHODS", "chats", "commands", "documents", "invites", "messages", "payments", "updates"]
