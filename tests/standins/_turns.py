"""Which of standin_turn_ok and standin_crash_in_turn ran last, shared by both (one interpreter)."""
last = None
