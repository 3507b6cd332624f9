"""Agent assist: drafts, summaries and rewrites for the agent, never sent by themselves."""
