"""ZooKeeper (kazoo) in ElasticJob-Cloud 3.0's layout: one repository per node family, the
scheduler's transactions across families, leader election, and the connection they share."""
