"""The Zeeg CRM API: one client on one requests.Session (its gate passed in) and the CRM result
types it returns.
"""
