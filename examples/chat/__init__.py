"""A chat: every message sent over a room's WebSocket reaches every member of the room.

Run it with ``lanner run examples.chat.app`` (one worker, in-memory channels) or, across several
workers or machines, with Redis: ``CHAT_CHANNELS=redis://localhost:6379/0 uvicorn
examples.chat.app:app --workers 4``. Open http://127.0.0.1:8000/ in two browser tabs.
"""
