"""The files under tests/data are inputs to tests, not tests, so pytest collects none of them."""

collect_ignore_glob = ["*"]
