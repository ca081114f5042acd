#!/bin/sh
# Example ElasticJob-Cloud application: each shard prints who it is and what it was given.
# The scheduler passes the sharding context as environment variables and, as JSON, in the last
# argument.
set -eu
for last; do :; done
echo "$(date '+%Y-%m-%d %H:%M:%S') job=${ELASTICJOB_JOB_NAME} shard=${ELASTICJOB_SHARDING_ITEM}/${ELASTICJOB_SHARDING_TOTAL_COUNT} parameter='${ELASTICJOB_SHARDING_PARAMETER}' task=${ELASTICJOB_TASK_ID}"
echo "context: ${last:-}"
