"""Time travel through an agent's history: each step keeps the agent as it was just before its LLM
call (Step.state), so the agent can be forked there (fork.py), returned there (rewind.py), the step's
request sent again with changes (replay.py), and a turn pinned as a scenario file (scenarios.py)."""
