"""The ElasticJob executor: runs a job's shards on a Mesos agent, speaking the v1 executor API."""
