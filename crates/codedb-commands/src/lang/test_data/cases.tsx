import React from "react";
interface Props { title: string; render(): JSX.Element; }
export function View({ title }: Props) { return <h1>{title}</h1>; }
export const Item = (p: Props) => <li>{p.title}</li>;
class Comp extends React.Component<Props> { render() { return <div />; } }
