#!/usr/bin/env python3
"""Writes testdata/params/*.json, the render-parameter fixtures.

The JSON files are committed; edit this script and rerun it to change them
(python3 testdata/make-fixtures.py), then run testdata/regen-goldens.sh.
The format is described in tools/template-oracle/README.md.
"""
import base64
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "params")

TIME = "2025-01-02T03:04:05.123456789Z"
CREATED = "2024-11-20T09:15:42Z"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def secret(name, namespace, data, type_="Opaque", labels=None, uid="0"):
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": "5f0c1e9a-0000-4000-8000-%012d" % int(uid),
        "resourceVersion": str(1000 + int(uid)),
        "creationTimestamp": CREATED,
    }
    if labels:
        meta["labels"] = labels
    return {"metadata": meta, "type": type_, "data": {k: b64(v) for k, v in data.items()}}


def configmap(name, namespace, data):
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "7a2d4c11-0000-4000-8000-000000000001",
            "resourceVersion": "2001",
            "creationTimestamp": CREATED,
        },
        "data": data,
    }


PROFILE_KEYPAIR = {
    "location": {
        "type": "s3Compliant",
        "bucket": "kapsel-backups",
        "endpoint": "https://minio.minio.svc.cluster.local:9000",
        "prefix": "kanister/prod",
        "region": "us-east-1",
    },
    "credential": {
        "type": "keyPair",
        "keyPair": {"id": "AKIAIOSFODNN7EXAMPLE", "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
    },
    "skipSSLVerify": False,
}

PROFILE_SECRET = {
    "location": {
        "type": "s3Compliant",
        "bucket": "kapsel-backups",
        "endpoint": "",
        "prefix": "",
        "region": "eu-west-1",
    },
    "credential": {
        "type": "secret",
        "secret": secret(
            "s3-creds",
            "kanister",
            {
                "aws_access_key_id": "AKIAI44QH8DHBEXAMPLE",
                "aws_secret_access_key": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
                "role": "arn:aws:iam::123456789012:role/backup&restore",
            },
            type_="secrets.kanister.io/aws",
            labels={"app.kubernetes.io/managed-by": "kanctl"},
            uid="9",
        ),
    },
    "skipSSLVerify": True,
}

PROFILE_KOPIA = {
    "location": {
        "type": "kopia",
        "bucket": "",
        "endpoint": "https://kopia-server.kanister.svc.cluster.local:51515",
        "prefix": "",
        "region": "",
    },
    "credential": {
        "type": "kopia",
        "kopiaServerSecret": {
            "username": "kanister-user",
            "hostname": "kanister.local",
            "password": "p&ss<w>rd\"'",
            "cert": "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUKapselTestCert\n-----END CERTIFICATE-----\n",
            "connectOptions": {"readTimeout": 30, "writeTimeout": 60},
        },
    },
    "skipSSLVerify": False,
}

# Artifacts read by restore/delete actions of the example Blueprints
# (every .ArtifactsIn.<name>.<field> reference).
ARTIFACTS_IN = {
    "cloudObject": {
        "keyValue": {
            "backupLocation": "pg_backups/db/my-release-postgresql/2025-01-01T00:00:00Z/backup.sql.gz",
            "path": "/mongodb-replicaset-backups/my-release-mongodb/2025-01-01T00-00-00/rs_backup.gz",
            "pvc": "data-my-release-postgresql-0",
            "backupTag": "kVx7pQ2mZa",
            "backupID": "7c1f9e0a",
            "backupArtifactLocation": "s3-bucket/path/artifactPrefix",
        }
    },
    "mysqlCloudDump": {"keyValue": {"s3path": "/mysql-backups/db/my-release/2025-01-01T00-00-00/dump.sql.gz"}},
    "redisCloudDump": {"keyValue": {"s3path": "/redis-backups/db/my-release/2025-01-01T00-00-00/dump.sql.gz"}},
    "mariaCloudDump": {"keyValue": {"s3path": "/maria-backups/db/my-release-mariadb/2025-01-01T00-00-00/dump.sql.gz"}},
    "mariaBackup": {
        "kopiaSnapshot": "{\"id\":\"k3f1c2a9e8d7b6a5\",\"logicalSize\":1048576,\"physicalSize\":524288}"
    },
    "params": {
        "keyValue": {
            "backupPrefixLocation": "kapsel-backups/cassandra_backups/db/my-release-cassandra",
            "snapshotPrefix": "/bitnami/cassandra/cassandra_data/kanister_backups",
            "replicaCount": "2",
            "backupInfo": "{\"my-release-cassandra-0\":{\"PodName\":\"my-release-cassandra-0\",\"BackupID\":\"a1\",\"BackupTag\":\"t1\"}}",
            "restorePathPrefix": "/",
        }
    },
    "backupInfo": {
        "keyValue": {
            "backupIdentifier": "{\"my-release-mongodb-0\":{\"PodName\":\"my-release-mongodb-0\",\"BackupID\":\"b2\",\"BackupTag\":\"t2\"}}"
        }
    },
    "snapshot": {
        "keyValue": {"id": "rds-ns-2025-01-01T00-00-00", "sgid": "sg-0123456789abcdef0", "dbSubnetGroup": "default-vpc-0abc"}
    },
    "snapshotInfo": {
        "keyValue": {
            "name": "time-log-pvc-snapshot-x7k2q",
            "pvc": "time-log-pvc",
            "namespace": "default",
            "restoreSize": "1Gi",
            "snapshotContent": "snapcontent-3f5a",
        }
    },
    "timeLog": {"keyValue": {"path": "kapsel-backups/time-log"}},
    "backupIdentifier": {"keyValue": {"id": "3b8e1c7d"}},
}

# Outputs of earlier phases (every .Phases.<phase>.Output.<key> reference).
PHASE_OUTPUTS = {
    "pgDump": {"backupLocation": "pg_backups/db/my-release-postgresql/2025-01-02T03:04:05Z/backup.sql.gz"},
    "dumpToObjectStore": {"s3path": "/mysql-backups/db/my-release/2025-01-02T03-04-05/dump.sql.gz"},
    "dumpToStore": {"kopiaOutput": "{\"id\":\"k9a8b7c6\",\"logicalSize\":2048,\"physicalSize\":1024}"},
    "backupToObjectStore": {
        "backupLocation": "es_backups/db/my-release-postgresql/2025-01-02T03:04:05Z/backup.gz",
        "BackupAllInfo": "{\"my-release-postgresql-0\":{\"PodName\":\"my-release-postgresql-0\",\"BackupID\":\"c3\",\"BackupTag\":\"t3\"}}",
    },
    "backupSnapshots": {
        "BackupAllInfo": "{\"my-release-postgresql-0\":{\"PodName\":\"my-release-postgresql-0\",\"BackupID\":\"d4\",\"BackupTag\":\"t4\"}}",
        "securityGroupID": "sg-0123456789abcdef0",
        "dbSubnetGroup": "default-vpc-0abc",
    },
    "getBackupPrefixLocation": {
        "backupPrefixLocation": "kapsel-backups/cassandra_backups/db/my-release-postgresql",
        "localSnapshotPrefixLocation": "/bitnami/cassandra/cassandra_data/kanister_backups",
        "replicaCount": "2",
    },
    "createBackupPod": {"name": "postgres-backup-sessionx8k2p", "namespace": "db"},
    "copyFiles": {
        "backupArtifactLocation": "s3-bucket/path/artifactPrefix",
        "backupID": "e5f6a7b8",
        "backupTag": "q1w2e3r4t5",
        "size": "1024",
        "version": "v0.0.0",
    },
    "backupToS3": {"backupID": "0a1b2c3d", "backupTag": "z9y8x7w6v5", "version": "v0.0.0"},
    "createCSISnapshot": {
        "name": "time-log-pvc-snapshot-x7k2q",
        "pvc": "time-log-pvc",
        "namespace": "default",
        "restoreSize": "1Gi",
        "snapshotContent": "snapcontent-3f5a",
    },
    "takeSnapshot": {"etcdPod": "etcd-master-0", "etcdNS": "openshift-etcd"},
    "uploadSnapshot": {"backupLocation": "etcd_backups/etcd-master-0/2025-01-02T03:04:05Z/etcd-backup.db.gz"},
}


def phases_with_secrets(ns, instance, sts_name):
    """Secrets fetched through phase `objects` of the StatefulSet Blueprints."""
    pg = secret(instance + "-postgresql", ns, {"postgres-password": "pg-Secr3t!", "postgresql-password": "pg10-Secr3t"}, uid="1")
    mysql = secret(instance, ns, {"mysql-root-password": "mysql-r00t", "redis-password": "redis-pw$1"}, uid="2")
    maria = secret(sts_name, ns, {"mariadb-root-password": "maria-r00t"}, uid="3")
    mongo = secret(sts_name, ns, {"mongodb-root-password": "mongo-r00t"}, uid="4")
    es = secret("elasticsearch-master-credentials", ns, {"username": "elastic", "password": "es p@ss"}, uid="5")
    phases = {
        "pgDump": {"secrets": {"pgSecret": pg}},
        "pgRestore": {"secrets": {"pgSecret": pg}},
        "createBackupPod": {"secrets": {"pgSecret": pg}},
        "dumpToObjectStore": {"secrets": {"mysqlSecret": mysql, "redisSecret": mysql, "mariaSecret": maria}},
        "restoreFromBlobStore": {"secrets": {"mysqlSecret": mysql, "redisSecret": mysql, "mariaSecret": maria}},
        "dumpToStore": {"secrets": {"mariaSecret": maria}},
        "restoreFromStore": {"secrets": {"mariaSecret": maria}},
        "takeConsistentBackup": {"secrets": {"mongosecret": mongo}},
        "pullFromBlobStore": {"secrets": {"mongosecret": mongo}},
        "backupToObjectStore": {"secrets": {"esMasterCredSecret": es}},
        "restoreFromObjectStore": {"secrets": {"esMasterCredSecret": es}},
    }
    return phases


def add_outputs(phases):
    phases = copy.deepcopy(phases)
    for name, out in PHASE_OUTPUTS.items():
        phases.setdefault(name, {})["output"] = out
    return phases


def common(obj, profile, phases, **extra):
    d = {
        "time": TIME,
        "object": obj,
        "artifactsIn": ARTIFACTS_IN,
        "profile": profile,
        "options": {"backupRetention": "7d"},
        "podLabels": {"team": "storage"},
        "podAnnotations": {"sidecar.istio.io/inject": "false"},
        "phases": add_outputs(phases),
        "deferPhase": {"output": {"status": "done"}},
    }
    d.update(extra)
    return d


NS = "db"
INSTANCE = "my-release"
STS = "my-release-postgresql"

STATEFULSET = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {
        "name": STS,
        "namespace": NS,
        "uid": "3c9d1e2f-1111-4222-8333-444455556666",
        "resourceVersion": "48213",
        "generation": 3,
        "creationTimestamp": CREATED,
        "labels": {
            "app.kubernetes.io/instance": INSTANCE,
            "app.kubernetes.io/name": "postgresql",
            "app.kubernetes.io/component": "primary",
            "app.kubernetes.io/managed-by": "Helm",
            "helm.sh/chart": "postgresql-16.2.1",
            "release": INSTANCE,
            "app": "elasticsearch-master",
        },
        "annotations": {"meta.helm.sh/release-name": INSTANCE, "meta.helm.sh/release-namespace": NS},
    },
    "spec": {
        "replicas": 2,
        "serviceName": STS + "-hl",
        "podManagementPolicy": "OrderedReady",
        "selector": {"matchLabels": {"app.kubernetes.io/instance": INSTANCE, "app.kubernetes.io/name": "postgresql"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/instance": INSTANCE, "app.kubernetes.io/name": "postgresql"}},
            "spec": {
                "containers": [
                    {
                        "name": "postgresql",
                        "image": "docker.io/bitnami/postgresql:17.2.0",
                        "ports": [{"name": "tcp-postgresql", "containerPort": 5432, "protocol": "TCP"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/bitnami/postgresql"}],
                    }
                ],
                "securityContext": {"fsGroup": 1001},
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}},
            }
        ],
    },
    "status": {"replicas": 2, "readyReplicas": 2, "currentRevision": STS + "-6d4cf56db6", "observedGeneration": 3},
}

STS_WORKLOAD = {
    "pods": [STS + "-0", STS + "-1"],
    "containers": [["postgresql", "metrics"], ["postgresql", "metrics"]],
    "persistentVolumeClaims": {
        STS + "-0": {"data-" + STS + "-0": "/bitnami/postgresql"},
        STS + "-1": {"data-" + STS + "-1": "/bitnami/postgresql"},
    },
}

STS_SECRETS = {
    "aws": secret("aws-creds", "kanister", {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, uid="6"),
    "postgres": secret(STS, NS, {"password_superuser": "super-Secr3t"}, uid="7"),
}
STS_CONFIGMAPS = {"location": configmap("postgres-s3-location", "kanister", {"bucket": "s3://kapsel-backups"})}


def statefulset(profile, comment):
    return common(
        STATEFULSET,
        profile,
        phases_with_secrets(NS, INSTANCE, STS),
        workload=STS_WORKLOAD,
        secrets=STS_SECRETS,
        configMaps=STS_CONFIGMAPS,
        comment=comment,
    )


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "time-logger",
        "namespace": "default",
        "uid": "8e7d6c5b-aaaa-4bbb-8ccc-dddddddddddd",
        "resourceVersion": "9911",
        "generation": 1,
        "creationTimestamp": CREATED,
        "labels": {"app": "time-logger"},
        "annotations": {"deployment.kubernetes.io/revision": "1"},
    },
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "time-logger"}},
        "template": {
            "metadata": {"labels": {"app": "time-logger"}},
            "spec": {
                "containers": [
                    {
                        "name": "test-container",
                        "image": "ghcr.io/kanisterio/kanister-tools:0.116.0",
                        "command": ["sh", "-c"],
                        "args": ["while true; do date >> /var/log/time.log; sleep 1; done"],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/log"}],
                    }
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "time-log-pvc"}}],
            },
        },
    },
    "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
}

DEPLOYMENTCONFIG = {
    "apiVersion": "apps.openshift.io/v1",
    "kind": "DeploymentConfig",
    "metadata": {
        "name": "postgresql",
        "namespace": "pg-ocp",
        "uid": "1d2c3b4a-5555-4666-8777-888899990000",
        "resourceVersion": "77120",
        "generation": 2,
        "creationTimestamp": CREATED,
        "labels": {"app": "postgresql-persistent", "template": "postgresql-persistent-template"},
    },
    "spec": {
        "replicas": 1,
        "selector": {"name": "postgresql"},
        "strategy": {"type": "Recreate"},
        "template": {
            "metadata": {"labels": {"name": "postgresql"}},
            "spec": {
                "containers": [
                    {
                        "name": "postgresql",
                        "image": "image-registry.openshift-image-registry.svc:5000/openshift/postgresql:13",
                        "ports": [{"containerPort": 5432, "protocol": "TCP"}],
                        "volumeMounts": [{"name": "postgresql-data", "mountPath": "/var/lib/pgsql/data"}],
                    }
                ],
                "volumes": [{"name": "postgresql-data", "persistentVolumeClaim": {"claimName": "postgresql"}}],
            },
        },
    },
    "status": {"latestVersion": 1, "replicas": 1, "readyReplicas": 1},
}

DC_PHASES = {
    "pgDump": {"secrets": {"pgSecret": secret("postgresql-pg-ocp", "pg-ocp", {"postgresql_admin_password": "adm1n-pw"}, uid="11")}},
    "pgRestore": {"secrets": {"pgSecret": secret("postgresql-pg-ocp", "pg-ocp", {"postgresql_admin_password": "adm1n-pw"}, uid="11")}},
    "dumpToObjectStore": {"secrets": {"mysqlsecret": secret("postgresql", "pg-ocp", {"database-root-password": "mysql-dc-r00t"}, uid="12")}},
    "restoreFromBlobStore": {"secrets": {"mysqlsecret": secret("postgresql", "pg-ocp", {"database-root-password": "mysql-dc-r00t"}, uid="12")}},
}

NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {
        "name": "db",
        "uid": "0f0e0d0c-bbbb-4aaa-8999-777766665555",
        "resourceVersion": "310",
        "creationTimestamp": CREATED,
        "labels": {"kubernetes.io/metadata.name": "db"},
    },
    "spec": {"finalizers": ["kubernetes"]},
    "status": {"phase": "Active"},
}

PVC = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {
        "name": "time-log-pvc",
        "namespace": "default",
        "uid": "2b3c4d5e-cccc-4ddd-8eee-ffff00001111",
        "resourceVersion": "9907",
        "creationTimestamp": CREATED,
        "labels": {"app": "time-logger"},
    },
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
    "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}},
}

RDS_CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "dbconfig",
        "namespace": "rds-ns",
        "uid": "6a5b4c3d-dddd-4eee-8fff-000011112222",
        "resourceVersion": "5120",
        "creationTimestamp": CREATED,
    },
    "data": {
        "postgres.instanceid": "test-postgresql-instance",
        "postgres.host": "test-postgresql-instance.abcdefghijkl.us-east-1.rds.amazonaws.com",
        "postgres.database": "postgres",
        "postgres.user": "master",
    },
}

ETCD_SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "etcd-details",
        "namespace": "openshift-etcd",
        "uid": "4d3c2b1a-eeee-4fff-8000-111122223333",
        "resourceVersion": "880",
        "creationTimestamp": CREATED,
    },
    "type": "Opaque",
    "data": {
        "endpoints": b64("https://10.0.133.5:2379"),
        "labels": b64("app=etcd,etcd=true"),
        "etcdns": b64("openshift-etcd"),
    },
}

FIXTURES = {
    "statefulset": statefulset(
        PROFILE_KEYPAIR,
        "Bitnami-style StatefulSet (two pods) with a keyPair S3 Profile; Secrets/ConfigMaps/phase data for every StatefulSet example Blueprint.",
    ),
    "statefulset-secret-profile": statefulset(
        PROFILE_SECRET,
        "Same StatefulSet with a secret-typed Profile (Credential.Secret is a full corev1.Secret).",
    ),
    "statefulset-kopia-profile": statefulset(
        PROFILE_KOPIA,
        "Same StatefulSet with a kopia Profile (Credential.KopiaServerSecret).",
    ),
    "deployment": common(
        DEPLOYMENT,
        PROFILE_KEYPAIR,
        {},
        workload={
            "pods": ["time-logger-6b9d8c7f5d-x2x9q"],
            "containers": [["test-container"]],
            "persistentVolumeClaims": {"time-logger-6b9d8c7f5d-x2x9q": {"time-log-pvc": "/var/log"}},
        },
        comment="Deployment time-logger (one pod, one PVC) with a keyPair S3 Profile.",
    ),
    "deploymentconfig": common(
        DEPLOYMENTCONFIG,
        PROFILE_KEYPAIR,
        DC_PHASES,
        workload={
            "pods": ["postgresql-1-k7x2c"],
            "containers": [["postgresql"]],
            "persistentVolumeClaims": {"postgresql-1-k7x2c": {"postgresql": "/var/lib/pgsql/data"}},
        },
        comment="OpenShift DeploymentConfig postgresql with a keyPair S3 Profile.",
    ),
    "namespace": common(
        NAMESPACE,
        PROFILE_KEYPAIR,
        {},
        comment="Namespace db: the object of the example Blueprints' delete actions.",
    ),
    "pvc": common(
        PVC,
        PROFILE_KEYPAIR,
        {},
        comment="PersistentVolumeClaim (sets .PVC); no example Blueprint targets PVCs.",
    ),
    "configmap-rds": common(
        RDS_CONFIGMAP,
        PROFILE_KEYPAIR,
        {},
        comment="ConfigMap describing an RDS instance (object of aws-rds-postgres backup/restore); keyPair Profile.",
    ),
    "configmap-rds-secret-profile": common(
        RDS_CONFIGMAP,
        PROFILE_SECRET,
        {},
        comment="Same ConfigMap with a secret-typed Profile (the else branch of aws-rds-postgres).",
    ),
    "secret-etcd": common(
        ETCD_SECRET,
        PROFILE_KEYPAIR,
        {},
        comment="Secret describing an OpenShift etcd cluster (object of etcd-incluster-ocp backup).",
    ),
    "minimal": {
        "time": TIME,
        "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "empty", "namespace": "default"}},
        "comment": "Only time and object: no profile, artifacts, secrets or phase data (shows the zero values).",
    },
}


def main():
    for name, data in FIXTURES.items():
        path = os.path.join(OUT, name + ".json")
        with open(path, "w") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print("wrote %d fixtures to %s" % (len(FIXTURES), OUT))


if __name__ == "__main__":
    main()
