"""Developer tools: the sandbox (a fake Zeeg over real HTTP) and the supervisor behind `zeeg-
consumer run`.
"""
