"""moto_server, with two RDS behaviours corrected to what AWS does.

The emulator (scripts/lib/emulator.ts) and the tests (test/support/moto.ts) start moto through
this file, with the same arguments as `moto_server`. moto 5.x (checked on 5.2.1) differs from
RDS in two ways that make a point-in-time restore (make restore-db) impossible to rehearse:

1. Every DB instance gets the same DbiResourceId. The AWS provider identifies an instance by
   its resource id (DescribeDBInstances, filter dbi-resource-id), so once a second instance
   exists (the restored one) every read and every waiter sees two instances.
   Here each instance gets its own id, of the shape AWS uses (db-<26 upper-case letters/digits>).
2. RestoreDBInstanceToPointInTime passes its own SourceDBInstanceIdentifier parameter on as
   the new instance's replica source, so the restored instance claims to be a read replica of
   the old one (AWS: a restored instance is a standalone instance). Here the restore no longer
   passes that parameter on.
3. ModifyDBInstance with ManageMasterUserPassword=true makes a new master-user secret (a new
   ARN) even when the instance manages its password already; AWS keeps the secret it has. The
   provider sends that flag after an import (it is not returned by the API, so an imported
   instance's state lacks it), and every resource that names the secret then sees it change
   mid-apply. Here an instance that has a managed secret keeps it.

And one of EKS: every cluster gets the same OIDC issuer (drawn once when moto starts), so a
second cluster's IAM OIDC provider collides with the first's. Here each cluster gets its own,
of the shape AWS uses (https://oidc.eks.<region>.amazonaws.com/id/<32 hex digits>).

Nothing else is changed; each correction does nothing once moto behaves like AWS.
"""
import random
import string
import sys

from moto.eks import models as eks
from moto.rds import models as rds
from moto.server import main

_ALPHABET = string.ascii_uppercase + string.digits
_MOTO_CONSTANT_ID = "db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U"


def _own_resource_id(init):
    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if getattr(self, "dbi_resource_id", None) == _MOTO_CONSTANT_ID:
            self.dbi_resource_id = "db-" + "".join(random.choice(_ALPHABET) for _ in range(26))

    return wrapped


def _standalone_restore(restore):
    def wrapped(self, source_db_identifier, target_db_identifier, overrides):
        overrides = {k: v for k, v in overrides.items() if k != "source_db_instance_identifier"}
        return restore(self, source_db_identifier, target_db_identifier, overrides)

    return wrapped


def _keep_managed_secret(update):
    def wrapped(self, *args, **kwargs):
        if kwargs.get("manage_master_user_password") is True and getattr(self, "master_user_secret", None) is not None:
            kwargs["manage_master_user_password"] = None
        return update(self, *args, **kwargs)

    return wrapped


def _own_issuer(init):
    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        issuer = self.identity["oidc"]["issuer"]
        self.identity = {"oidc": {"issuer": issuer.rsplit("/", 1)[0] + "/" + "".join(random.choice("0123456789ABCDEF") for _ in range(32))}}

    return wrapped


rds.DBInstance.__init__ = _own_resource_id(rds.DBInstance.__init__)
eks.Cluster.__init__ = _own_issuer(eks.Cluster.__init__)
rds.DBInstance.update = _keep_managed_secret(rds.DBInstance.update)
rds.RDSBackend.restore_db_instance_to_point_in_time = _standalone_restore(
    rds.RDSBackend.restore_db_instance_to_point_in_time
)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
