import { StorageClassV1 } from "@cdktf/provider-kubernetes/lib/storage-class-v1";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

/** The StorageClass every persistent volume of the platform asks for. */
export const GP3_STORAGE_CLASS = "gp3";

export interface Gp3StorageClassProps {
  /** What must exist first (the admin access lookups; the EBS CSI add-on is part of the cluster layer). */
  readonly after?: ITerraformDependable[];
}

/**
 * An encrypted gp3 StorageClass on the EBS CSI driver, made the default. EKS ships only `gp2` (on
 * the in-tree provisioner), so a PVC that asks for `gp3` would stay Pending and an atomic Helm
 * release waiting for it would time out and roll back. `WaitForFirstConsumer` creates each volume
 * in the zone its pod is scheduled to.
 */
export class Gp3StorageClass extends Construct {
  readonly storageClass: StorageClassV1;
  readonly name = GP3_STORAGE_CLASS;

  constructor(scope: Construct, id: string, props: Gp3StorageClassProps = {}) {
    super(scope, id);
    this.storageClass = new StorageClassV1(this, "gp3", {
      metadata: { name: GP3_STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      storageProvisioner: "ebs.csi.aws.com",
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Delete",
      allowVolumeExpansion: true,
      parameters: { type: "gp3", encrypted: "true", "csi.storage.k8s.io/fstype": "ext4" },
      dependsOn: props.after,
    });
  }
}
