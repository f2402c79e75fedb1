"""What leaders get: the digest and its chart, reports, the workbooks, targets, the public figures."""
