"""ZooKeeper repositories (kazoo), one per node family, in ElasticJob-Cloud 3.0's layout."""
