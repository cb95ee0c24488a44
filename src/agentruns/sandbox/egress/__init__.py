"""Network egress of a run by policy: an allowlist of domains, the public-address rules, a proxy per sandbox."""
