package localcluster

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/schedulerd/schedulerd/internal/serve"
	"go.uber.org/zap"

	"github.com/schedulerd/schedulerd/pkg/embedetcd"
)

// EtcdMemberCommand runs one etcd member until a signal: the hidden subcommand the members
// of NewEtcdMembers run as. A binary that uses NewEtcdMembers adds it to its root command
// under its own name, "etcd-member".
func EtcdMemberCommand() *cobra.Command {
	var c embedetcd.Config
	cmd := &cobra.Command{
		Use:  "etcd-member",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := zap.NewProduction()
			if err != nil {
				return err
			}
			c.Logger = log
			srv, err := embedetcd.Start(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer srv.Close(5 * time.Second) // SIGTERM: a clean stop; a crash is SIGKILL
			select {
			case <-cmd.Context().Done():
				return nil
			case err := <-srv.Err():
				return fmt.Errorf("etcd member %s: %w", c.Name, err)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Name, "name", "", "member name")
	f.StringVar(&c.Dir, "dir", "", "data directory")
	f.StringVar(&c.ClientURL, "client-url", "", "client URL")
	f.StringVar(&c.PeerURL, "peer-url", "", "peer URL")
	f.StringVar(&c.InitialCluster, "initial-cluster", "", "name=peer-url,… of every member")
	return cmd
}

// Member is one etcd member process.
type Member struct {
	*Proc
	ClientURL string
}

// NewEtcdMembers describes an n-member etcd cluster on free loopback ports: members m1…mn,
// logs etcd-m1.log…, data in <workdir>/m1…. Start each member; a member restarted on its data
// directory rejoins.
func NewEtcdMembers(workdir string, n int) ([]*Member, error) {
	ports, err := FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i+1, ports[n+i]))
	}
	var members []*Member
	for i := range n {
		name := fmt.Sprintf("m%d", i+1)
		clientURL := fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		members = append(members, &Member{ClientURL: clientURL, Proc: NewProc(workdir, "etcd-"+name, []string{"etcd-member",
			"--name", name, "--dir", filepath.Join(workdir, name),
			"--client-url", clientURL, "--peer-url", fmt.Sprintf("http://127.0.0.1:%d", ports[n+i]),
			"--initial-cluster", strings.Join(initial, ","),
		})})
	}
	return members, nil
}

// ChildCommands are the hidden subcommands a harness binary re-executes itself as: an etcd
// member (EtcdMemberCommand) and a replica (serve). Add them to its root command.
func ChildCommands() []*cobra.Command {
	member := EtcdMemberCommand()
	member.Hidden = true
	srv := serve.Command()
	srv.Hidden = true
	return []*cobra.Command{member, srv}
}
