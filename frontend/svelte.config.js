// Svelte's settings for the dashboard (read by vite-plugin-svelte and svelte-check). TypeScript in
// components needs no preprocessor since Svelte 5: types are stripped by the compiler itself.
export default {};
