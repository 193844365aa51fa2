package cli

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/k8s"
	"iter8.tools/iter8/internal/task"
	"iter8.tools/iter8/internal/version"
)

// kOptions are the flags every k command shares: the group and the kube
// flags.
type kOptions struct {
	group string
	kube  *k8s.Kube
}

// target returns the validated group and the namespace.
func (o *kOptions) target() (string, string, error) {
	if errs := validation.IsDNS1123Label(o.group); len(errs) > 0 || len(o.group) > 53 {
		return "", "", usagef("--group %q: expected a lower-case name of at most 53 letters, digits and '-', starting and ending with a letter or digit (it names the Helm release and the Secret)", o.group)
	}
	ns, err := o.kube.Namespace()
	if err != nil {
		return "", "", err
	}
	return o.group, ns, nil
}

// secret returns the store of the group's experiment.
func (o *kOptions) secret(a *app) (*k8s.Secret, error) {
	group, ns, err := o.target()
	if err != nil {
		return nil, err
	}
	c, err := o.kube.Clientset()
	if err != nil {
		return nil, err
	}
	return k8s.NewSecret(c, ns, group, a.logger), nil
}

func newKCmd(a *app) *cobra.Command {
	o := &kOptions{kube: k8s.New()}
	cmd := &cobra.Command{
		Use:   "k",
		Short: "Run experiments in Kubernetes",
		Long: `k runs experiments in a Kubernetes cluster. k launch installs an experiment as a Helm
release named after its group (-g): a Secret holding the experiment, a ServiceAccount with a
least-privilege Role, and a Job (runner=job) or CronJob (runner=cronjob) whose pod runs
iter8 k run. k report, k assert, k log and k delete work on the group.`,
		Example: `  iter8 k launch --set "tasks={ready,http,assess}" --set ready.deploy=httpbin --set ready.service=httpbin \
    --set http.url=http://httpbin.default/get --set assess.SLOs.upper.http/latency-mean=50 --set runner=job
  iter8 k assert -c completed -c nofailure -c slos --timeout 120s
  iter8 k report
  iter8 k log
  iter8 k delete`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	fs := cmd.PersistentFlags()
	fs.StringVarP(&o.group, "group", "g", k8s.DefaultGroup, "experiment group: names the Helm release and the Secret holding the experiment")
	o.kube.AddFlags(fs)
	cmd.AddCommand(
		newKLaunchCmd(a, o),
		newKRunCmd(a, o),
		newKAssertCmd(a, o),
		newKReportCmd(a, o),
		newKLogCmd(a, o),
		newKDeleteCmd(a, o),
	)
	return cmd
}

func newKLaunchCmd(a *app, k *kOptions) *cobra.Command {
	o := &genOptions{app: a, deps: task.Deps{Generators: &task.Generators{Count: task.MaxReplicas}}}
	var dry bool
	cmd := &cobra.Command{
		Use:   "launch",
		Short: "Install an experiment in Kubernetes (or replace it)",
		Long: `k launch renders the experiment chart with the given values and installs it as a Helm
release named after the group (-g, default "default"); when the release exists it is upgraded:
the experiment is replaced and the release's revision grows. The release holds:

  Secret <group>                 the experiment (key experiment.yaml) and, once it runs, its result
  ServiceAccount <group>-iter8-sa
  Role/RoleBinding <group>       get and update on that Secret only
  Role/RoleBinding <group>-ready get on the objects the ready tasks check (if any)
  Job <group>-<revision>-job     runner=job: one loop
  CronJob <group>-<revision>-cronjob  runner=cronjob: one loop per cronjobSchedule

With serviceAccountName the pods run as that ServiceAccount and no ServiceAccount, Role or
RoleBinding is created. runner=none (the default) creates only the Secret and RBAC: run the
experiment with iter8 k run. --dry writes the manifests to manifest.yaml in --runDir instead.`,
		Example: `  iter8 k launch --set "tasks={ready,http,assess}" --set ready.deploy=httpbin --set ready.service=httpbin \
    --set ready.timeout=60s --set http.url=http://httpbin.default/get \
    --set assess.SLOs.upper.http/latency-mean=50 --set assess.SLOs.upper.http/error-count=0 --set runner=job

  # a loop every 5 minutes, results accumulating in the Secret
  iter8 k launch -g hourly -f values.yaml --set runner=cronjob --set cronjobSchedule="*/5 * * * *"

  # only write the manifests
  iter8 k launch --dry -f values.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			group, ns, err := k.target()
			if err != nil {
				return err
			}
			l := &kLaunch{gen: o, release: &k8s.Release{Kube: k.kube, Namespace: ns, Group: group, Logger: a.logger}, dry: dry, logger: a.logger}
			return l.Run(cmd.Context())
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().Lookup("runDir").Usage = "directory where --dry writes manifest.yaml"
	cmd.Flags().BoolVar(&dry, "dry", false, "write the manifests to manifest.yaml without installing anything")
	return cmd
}

func newKRunCmd(a *app, k *kOptions) *cobra.Command {
	var (
		reuse       bool
		pods, index int
		job         string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the group's experiment (what the Job or CronJob pod does)",
		Long: `k run reads the experiment from the group's Secret, runs one loop of its tasks and writes
the experiment back after every task. It is what the experiment's pods run; run it yourself
for an experiment launched with runner=none. With --reuseResult the stored result is kept and
a loop is added (CronJob runs).`,
		Example: `  iter8 k launch -f values.yaml        # runner=none
  iter8 k run
  iter8 k run -g hourly --reuseResult`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := k.secret(a)
			if err != nil {
				return err
			}
			st.ForbiddenWait = 30 * time.Second // RBAC made with the release may lag
			deps := task.Deps{Kube: k.kube}
			if pods > 1 || index != 0 {
				if deps.Generators, err = generators(a, k, pods, index, job); err != nil {
					return err
				}
				m := deps.Generators.Meeting.(*k8s.Meeting)
				defer func() {
					a.logger.Info("load generator pod finished", "pod", index, "pods", pods, "conflictRetries", m.Store.Retries(), "peakSecretBytes", m.PeakBytes())
				}()
			}
			if index > 0 {
				return task.Follow(cmd.Context(), st, deps, os.TempDir(), a.logger)
			}
			r := a.runner(st, os.TempDir(), reuse, deps)
			r.Build = version.Get().Short() // which image ran, for k report and k assert
			if deps.Generators != nil {
				r.Job = job
			}
			_, err = r.Run(cmd.Context())
			return err
		},
	}
	cmd.Flags().BoolVar(&reuse, "reuseResult", false, "keep the stored result and add a loop")
	cmd.Flags().IntVar(&pods, "pods", 1, "load generator pods of the Indexed Job running the experiment (the chart sets it)")
	cmd.Flags().IntVar(&index, "index", 0, "this pod's index in the Indexed Job, 0 to pods-1 (the chart sets it from JOB_COMPLETION_INDEX)")
	cmd.Flags().StringVar(&job, "job", "", "the Job this pod belongs to (the chart sets it): a CronJob's loops are Jobs of their own")
	_ = cmd.Flags().MarkHidden("pods")
	_ = cmd.Flags().MarkHidden("job")
	_ = cmd.Flags().MarkHidden("index")
	return cmd
}

// generators are the load generator pods of an Indexed Job, meeting in the
// group's Secret through a store of their own.
func generators(a *app, k *kOptions, pods, index int, job string) (*task.Generators, error) {
	if pods < 1 || pods > task.MaxReplicas || index < 0 || index >= pods {
		return nil, usagef("--pods %d --index %d: expected 1 to %d pods and an index from 0 to pods-1", pods, index, task.MaxReplicas)
	}
	st, err := k.secret(a)
	if err != nil {
		return nil, err
	}
	st.ForbiddenWait = 30 * time.Second
	host, err := os.Hostname() // the pod's name
	if err != nil {
		host = ""
	}
	return &task.Generators{Index: index, Count: pods, Host: host, Job: job, Meeting: &k8s.Meeting{Store: st}}, nil
}

func newKAssertCmd(a *app, k *kOptions) *cobra.Command {
	o := &assertOptions{}
	cmd := &cobra.Command{
		Use:   "assert",
		Short: "Check that the group's experiment completed without failure and satisfied its SLOs",
		Long: `k assert checks conditions on the experiment in the group's Secret, exactly as iter8 assert
does on a file: it exits 0 when all hold and 1 when any does not. It works while the experiment
runs and right after launch; with --timeout it re-checks every 3s until the conditions hold, the
experiment finishes, or the timeout passes.`,
		Example: `  iter8 k assert -c completed -c nofailure -c slos
  iter8 k assert -g hourly -c completed,nofailure,slos --timeout 120s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.interval <= 0 {
				return usagef("--interval must be positive")
			}
			st, err := k.secret(a)
			if err != nil {
				return err
			}
			return o.Run(cmd.Context(), a, &versionCheck{Store: st, logger: a.logger})
		},
	}
	cmd.Flags().StringSliceVarP(&o.conditions, "condition", "c", nil, "condition to check: completed, nofailure or slos (repeatable or comma-separated)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "keep checking until this much time has passed (0 checks once)")
	cmd.Flags().DurationVar(&o.interval, "interval", 3*time.Second, "time between checks when waiting")
	_ = cmd.Flags().MarkHidden("interval")
	return cmd
}

func newKReportCmd(a *app, k *kOptions) *cobra.Command {
	cmd := reportCmd(a, func() (experiment.Store, error) {
		st, err := k.secret(a)
		if err != nil {
			return nil, err
		}
		return &versionCheck{Store: st, logger: a.logger}, nil
	})
	cmd.Short = "Show the results of the group's experiment"
	cmd.Long = `k report prints the experiment in the group's Secret, exactly as iter8 report does for a
file. It works while the experiment runs, and right after launch (before any result).`
	cmd.Example = `  iter8 k report
  iter8 k report -g hourly -n team-a -o json`
	return cmd
}

func newKLogCmd(a *app, k *kOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "log",
		Short: "Show the logs of the group's experiment pods, loop by loop",
		Long: `k log prints the logs of the experiment's pods (label iter8.tools/group=<group>), oldest
first, each under a header naming its loop, pod, Job and phase: one pod for a Job run, one per
loop for a CronJob run (as many as the CronJob's history keeps).`,
		Example: `  iter8 k log
  iter8 k log -g hourly`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			group, ns, err := k.target()
			if err != nil {
				return err
			}
			c, err := k.kube.Clientset()
			if err != nil {
				return err
			}
			logs, err := k8s.Logs(cmd.Context(), c, ns, group)
			if err != nil {
				return err
			}
			if len(logs) == 0 {
				a.logger.Info("no experiment pods (runner=none runs none; a CronJob's first pod starts on schedule)", "group", group, "namespace", ns)
				return nil
			}
			return k8s.WriteLogs(a.streams.Out, logs)
		},
	}
}

func newKDeleteCmd(a *app, k *kOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "delete",
		Short: "Delete the group's experiment and everything k launch created for it",
		Long: `k delete uninstalls the group's Helm release: the Secret with the experiment and its result,
the ServiceAccount, Roles and RoleBindings, and the Job or CronJob with their pods.`,
		Example: `  iter8 k delete
  iter8 k delete -g hourly`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			group, ns, err := k.target()
			if err != nil {
				return err
			}
			rel := &k8s.Release{Kube: k.kube, Namespace: ns, Group: group, Logger: a.logger}
			if err := rel.Delete(cmd.Context()); err != nil {
				return err
			}
			a.logger.Info("experiment deleted", "group", group, "namespace", ns)
			return nil
		},
	}
}

// versionCheck warns, once, when the experiment's latest loop ran in a pod
// with another iter8 release than this CLI: the pod's image and the CLI
// should match (iter8Image defaults to the CLI's own version).
type versionCheck struct {
	experiment.Store
	logger *slog.Logger
	warned bool
}

// Load loads the experiment and compares the versions.
func (v *versionCheck) Load(ctx context.Context) (*experiment.Experiment, error) {
	exp, err := v.Store.Load(ctx)
	if err != nil || exp.Result == nil || exp.Result.Iter8Build == "" || v.warned {
		return exp, err
	}
	if pod := exp.Result.Iter8Build; version.Release(pod) != version.Version {
		v.warned = true
		v.logger.Warn("the experiment's pod ran another iter8 than this one: results may differ in meaning; set iter8Image to "+version.Image()+" or use the iter8 of the pod",
			"pod", pod, "cli", version.Get().Short())
	}
	return exp, nil
}
