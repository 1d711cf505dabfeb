"""WhatsApp sandbox: a local Graph API stand-in and a chat page, for development and tests."""
