/** Export definitions: the service the routes, the scheduler and analytics call. */
export * from "./definitions";
