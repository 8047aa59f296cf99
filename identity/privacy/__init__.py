"""Personal data and the law: which fields and values are personal (``personal_data``),
erasure with suppression, access requests and retention."""
