"""The instance's own moderation policy: one decision point, called at three checkpoints."""
