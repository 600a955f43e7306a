// Command kubeseed is a lightweight Kubernetes in one binary: its subcommands
// run the API server, the controllers, the node agent, or all of them at once.
package main

import (
	"os"

	"github.com/kubeseed/kubeseed/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
