"""Every way a mapping comes in or goes out: linking (with late links to tombstones),
import/export files, and sync from Zeeg's list endpoint.
"""
