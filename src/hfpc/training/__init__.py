"""Training of the reward model from reviewers' pass/fail labels (needs the ``models`` extra)."""
