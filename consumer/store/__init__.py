"""Redis operations, one small module per concept; every key comes from store.keys."""
