"""Support: a buyer's conversation with a channel's owner (`/support`, `/paysupport`, the Help
button under receipts and reminders), each side answering by replying to the bot's message; and
the owner's notice when a buyer who paid cannot be reached."""
