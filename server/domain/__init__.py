"""Domain objects and rules: apps, jobs and their validation. No protobuf, no ZooKeeper here."""
