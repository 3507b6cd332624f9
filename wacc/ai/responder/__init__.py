"""The auto-responder and reply generation: answers to customers from the knowledge base."""
