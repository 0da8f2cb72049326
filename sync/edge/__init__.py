"""The site's end of sync: device identity, the agent and its daemon, its durable state."""
