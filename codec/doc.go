// Package codec encrypts the payloads TARS puts in Temporal histories.
//
// Every value a run carries (its plan and inputs, each step's arguments and
// output, model prompts and answers, approvals) is a Temporal payload stored
// in the run's history. With a Codec on every client and worker, those
// payloads are AES-256-GCM ciphertext on the server: people with access to
// the Temporal server, its database or its Web UI see metadata (ids, step
// names, timings, task queues) but no values.
//
// Keys have ids so they can rotate: the payload records the id of the key
// that encrypted it, the first key of a Codec encrypts, and any key it holds
// decrypts. Keys come from a file or the environment as lines of
// "id:base64key" (ParseKeys, ReadKeyFile).
//
// Three ways to use it, all with the same Codec:
//
//   - in a client or worker: client.Options{DataConverter: c.DataConverter(),
//     FailureConverter: c.FailureConverter()}, so the SDK encrypts what it
//     writes and decrypts what it reads;
//   - in a reader of raw histories (a trace, an export):
//     DecodingInterceptor on the client's gRPC connection, or DecodeHistory
//     on a history read from a file;
//   - as a codec server for the Temporal Web UI and CLIs that hold no key
//     (Handler), speaking Temporal's codec server protocol: POST /encode
//     and /decode with {"payloads": [...]} in proto JSON.
//
// A Codec is not key management: it does not fetch keys from a KMS or
// re-encrypt old histories; payloads written under a key stay readable only
// while some Codec still holds that key. Search attributes are not payloads
// it touches (Temporal indexes them in plain text), nor are workflow and
// step ids, task queue names or error types.
package codec
