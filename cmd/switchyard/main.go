// Command switchyard runs the Switchyard server and its tools. See `switchyard --help`.
package main

import (
	"os"

	"github.com/switchyardhq/switchyard/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
