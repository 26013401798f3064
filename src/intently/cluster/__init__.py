"""Cluster mode on engines users already run: NATS JetStream (the durable, partitioned log),
PostgreSQL (state, leases and the offsets, committed together) and Redis (hot reads for
real-time decisions: `RecordWriter` in workers, `RecordReader` in gateways).

- `Gateway` (in the HTTP server of `intently serve --role gateway`): validates, files and
  publishes each event to its partition's subject with `Nats-Msg-Id` = its message id, and
  answers after JetStream's acknowledgement.
- `ClusterWorker` (`--role worker`): takes partitions under leases with epochs, applies their
  events with the embedded engine, and commits state, outbox rows and the stream position in
  one PostgreSQL transaction fenced by the epoch.
- `ClusterOutbox` (`--role dispatcher`): the partitions' outboxes as one, for the dispatcher.
- `ClusterReads` (in gateways, and the CLI against a cluster): a person's export from every
  partition that holds them, and the privacy journal.
- `ClusterDefinitions` (in gateways, and the CLI): segments and scenarios changed while the
  cluster runs, applied by every partition's owner in order with its events.
- `Homes` (in gateways): the directory of each person's home partition, by user and device
  id; a device that signs in moves to its person's partition (`_worker`, `engine/_moves`).
- `DashboardWorker` (`--role dashboard` and `all`): a read-only engine over the union of the
  partitions (`UnionStore`), kept fresh, for the dashboard and the reading routes.

docs/cluster.md has the design, its guarantees and its limits.
"""

from ._bootstrap import bootstrap
from ._cache import RecordReader, RecordWriter
from ._dashboard import DashboardWorker
from ._definitions import ClusterDefinitions
from ._gateway import Gateway
from ._homes import Homes
from ._layout import STREAM, partition_of, partition_schema
from ._leases import Lease, Leases
from ._outbox import ClusterOutbox
from ._partition import Fenced, PartitionStore
from ._reads import ClusterReads
from ._union import UnionStore
from ._worker import ClusterWorker

__all__ = ["STREAM", "ClusterDefinitions", "ClusterOutbox", "ClusterReads", "ClusterWorker",
           "DashboardWorker", "Fenced", "Gateway", "Homes", "Lease", "Leases",
           "PartitionStore", "RecordReader", "RecordWriter", "UnionStore", "bootstrap",
           "partition_of", "partition_schema"]
