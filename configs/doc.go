// Package configs loads TARS's configuration: the agent catalogue
// (agents.yaml), the agent tree of departments, teams and swarms
// (agent-tree.yaml) and the deployment targets (deployment.yaml).
//
// The defaults ship inside the binary (Default), so `tars` works from any
// directory; Load reads a user's directory, file by file, falling back to a
// default for a file that is missing. Files are read strictly with yaml.v3
// nodes: unknown keys are rejected with a "did you mean", and every fault is
// reported as file:line:col in one pass.
//
// This package describes who the agents are and where workers run. It does
// not compile metascripts (package metascripts resolves agents through
// Config.Resolve), detect the machine's runtimes, or start workers.
package configs
