"""The erasure of stored events: the RQ job, the retry policy, erasure decisions, the delivery
gate, the auth probe and the worker class.
"""
