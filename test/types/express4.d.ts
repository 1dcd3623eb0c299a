// Express 4 is installed under the alias `express4`, beside Express 5, so both are tested.
declare module 'express4' {
  import express from 'express';
  export default express;
}
