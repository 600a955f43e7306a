// Package persistentvolume binds PersistentVolumeClaims to PersistentVolumes,
// as upstream's persistentvolume-binder does for statically created volumes:
// a pending claim gets the smallest available volume that matches its class,
// access modes, volume mode, size and selector (upstream's own matcher from
// k8s.io/component-helpers/storage/volume), both sides are marked bound with
// upstream's annotations, claims whose StorageClass says WaitForFirstConsumer
// are left for the scheduler, a bound claim whose volume vanishes becomes Lost,
// and a volume whose claim is deleted becomes Released and is then kept
// (Retain) or deleted (Delete). Dynamic provisioning is left to provisioners.
package persistentvolume
