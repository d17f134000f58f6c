"""Training algorithms: behavioural cloning (supervised loop)."""
