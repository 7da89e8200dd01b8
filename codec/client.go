package codec

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// decodedMethods are the calls whose answers carry a run's recorded
// payloads to a reader that walks them itself (a trace, an export, a
// status): the history and the description (pending activities' last
// failures and heartbeats, the memo).
var decodedMethods = map[string]bool{
	workflowservice.WorkflowService_GetWorkflowExecutionHistory_FullMethodName:        true,
	workflowservice.WorkflowService_GetWorkflowExecutionHistoryReverse_FullMethodName: true,
	workflowservice.WorkflowService_DescribeWorkflowExecution_FullMethodName:          true,
}

// DecodingInterceptor decodes, with pc, the payloads and failure messages in
// the answers to GetWorkflowExecutionHistory(Reverse) and
// DescribeWorkflowExecution, so that code reading histories directly sees
// plain values. Install it with client.Options.ConnectionOptions.
// DialOptions (grpc.WithChainUnaryInterceptor) beside DataConverter(pc): the
// data converter passes payloads that are already plain, so values the SDK
// reads from the same answers decode once. Other calls pass untouched.
func DecodingInterceptor(pc converter.PayloadCodec) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
			return err
		}
		msg, ok := reply.(proto.Message)
		if !ok || !decodedMethods[method] {
			return nil
		}
		if err := decodeMessage(ctx, pc, msg); err != nil {
			// Not Unknown (which the SDK retries until its deadline): a key
			// that is missing or a codec server that refuses stays so.
			return status.Error(codes.FailedPrecondition, err.Error())
		}
		return nil
	}
}

// DecodeHistory decodes, with pc, every payload and failure message of h in
// place: for a history read from a file.
func DecodeHistory(ctx context.Context, pc converter.PayloadCodec, h *historypb.History) error {
	return decodeMessage(ctx, pc, h)
}

func decodeMessage(ctx context.Context, pc converter.PayloadCodec, msg proto.Message) error {
	err := proxy.VisitPayloads(ctx, msg, proxy.VisitPayloadsOptions{
		Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
			return pc.Decode(ps)
		},
		SkipSearchAttributes: true,
	})
	if err != nil {
		return fmt.Errorf("decode payloads: %w", err)
	}
	// The failures' encoded attributes are plain now; move them back into
	// the message and stack trace.
	dc := converter.GetDefaultDataConverter()
	return proxy.VisitFailures(ctx, msg, proxy.VisitFailuresOptions{
		Visitor: func(_ *proxy.VisitFailuresContext, f *failurepb.Failure) error {
			converter.DecodeCommonFailureAttributes(dc, f)
			return nil
		},
	})
}
