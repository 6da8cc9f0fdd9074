package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/google/uuid"

	"github.com/switchyardhq/switchyard/client"
)

// A program that emits an event with a machine key, then retries every failed delivery.
func Example() {
	ctx := context.Background()
	orgID := uuid.MustParse(os.Getenv("SWITCHYARD_ORG_ID"))
	workspaceID := uuid.MustParse(os.Getenv("SWITCHYARD_WORKSPACE_ID"))
	c, err := client.New("http://127.0.0.1:8080", client.WithMachineKey(client.MachineKey{
		AccessKey: os.Getenv("SWITCHYARD_ACCESS_KEY"),
		SecretKey: os.Getenv("SWITCHYARD_SECRET_KEY"),
		OrgID:     orgID,
	}))
	if err != nil {
		fmt.Println(err)
		return
	}

	ev, err := c.EmitEvent(ctx, client.EventInput{Workspace: workspaceID, Event: "user.signup",
		Payload: map[string]any{"email": "ada@example.com"}, IdempotencyKey: "signup-42"})
	var apiErr *client.Error
	switch {
	case errors.As(err, &apiErr):
		fmt.Println("refused:", apiErr.StatusCode, apiErr.Message, apiErr.Fields, "request", apiErr.RequestID)
		return
	case err != nil:
		fmt.Println("not sent:", err)
		return
	}
	fmt.Println("accepted", ev.ID, "replayed:", ev.Replayed)

	for e, err := range c.Events(ctx, &client.EventListOptions{Status: client.StatusFailed}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, d := range e.RuleEvents {
			if d.Status == client.StatusFailed {
				if _, err := c.RetryDelivery(ctx, e.ID, d.Rule); err != nil && !client.IsConflict(err) {
					fmt.Println(err)
				}
			}
		}
	}
}
