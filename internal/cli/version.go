package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"iter8.tools/iter8/internal/version"
)

func newVersionCmd(a *app) *cobra.Command {
	var short bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of iter8",
		Example: `  iter8 version
  iter8 version --short`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			v := version.Get()
			if short {
				_, err := fmt.Fprintln(a.streams.Out, v.Short())
				return err
			}
			_, err := fmt.Fprintln(a.streams.Out, v.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&short, "short", false, "print the version number only")
	return cmd
}
