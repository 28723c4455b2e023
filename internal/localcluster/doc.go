// Package localcluster runs a schedulerd cluster as child processes on loopback: etcd members
// and schedulerd replicas, each a re-execution of the calling binary (os.Executable) with a
// subcommand (EtcdMemberCommand for a member, serve.Command for a replica). The chaos harness
// and the benchmarks share it.
//
// Promises: every child runs in its own process group, so a Ctrl-C to the parent does not
// reach it behind the parent's back; on Linux a child is killed when the parent dies
// (Pdeathsig), so none outlives a run; a Proc's output goes to a log file that is appended
// across restarts. Wait and Until poll with deadlines, never unbounded.
//
// Non-promises: ports from FreePorts are free when returned, not reserved: a child that binds
// one later can lose a race with another process. Outside Linux, children of a killed parent
// must be cleaned up by hand.
package localcluster
